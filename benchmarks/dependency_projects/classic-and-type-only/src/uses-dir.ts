import { i } from "./dir";
export const u = i;
