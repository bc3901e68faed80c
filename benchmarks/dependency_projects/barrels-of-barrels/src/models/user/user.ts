import type { Id } from "../ids";
export class User { id!: Id; }
