import { a } from "./a.ts";
import { b } from "./b.js";
import { c } from "./c";
import { d } from "./d/index";
import e from "./e.mjs";
export const all = [a, b, c, d, e];
