import { a } from "./a.js";
import("./b.js");
export const t = a;
