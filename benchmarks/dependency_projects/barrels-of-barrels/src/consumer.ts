import { User, Order, api, version } from "./index";
import "./models/user";
export const c = [User, Order, api, version];
