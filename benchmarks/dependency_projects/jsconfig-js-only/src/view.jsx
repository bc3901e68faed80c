import { greet } from "lib/greet";
export const View = () => <p>{greet("a")}</p>;
