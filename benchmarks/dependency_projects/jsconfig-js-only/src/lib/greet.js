import { pad } from "./util/pad";
export const greet = (n) => pad(n);
