import { App } from "@/App";
import "@/styles";
import logo from "~assets/logo";
export const root = App;
