export { fetchUser } from "./users";
