import { User } from "../models";
import { Order } from "..";
export const fetchUser = (): User | Order | null => null;
