import { greet } from "lib/greet";
const cfg = require("./config");
const lazy = import("./lazy.js");
export default greet(cfg.name);
