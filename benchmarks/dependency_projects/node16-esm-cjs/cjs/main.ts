import { x } from "./x";
import { y } from "./y.js";
export const m = x + y;
