import { User } from "./user";
export class Order { by!: User; }
