export type Role = "a" | "b";
