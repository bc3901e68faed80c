import both from "./both";
import up from "../src/a/index";
export default [both, up];
