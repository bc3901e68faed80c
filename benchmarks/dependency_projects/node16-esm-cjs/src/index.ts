import { a } from "./a.js";
import { b } from "./b";
import dir from "./dir/index.js";
import c = require("./legacy.cjs");
export const all = [a, b, dir, c];
