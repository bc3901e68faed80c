export * from "./models";
export * as api from "./api";
export { default as version } from "./version";
