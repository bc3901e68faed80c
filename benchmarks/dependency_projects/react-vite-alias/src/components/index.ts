export * from "./Button";
export { Card } from "./Card";
