import a from "./a";
import b from "./b";
import c from "./c";
import d from "./d";
import e from "./e/";
import f from "./f.js";
import j from "./data.json";
export default [a, b, c, d, e, f, j];
