const Page = () => import("@/pages/Settings");
const Other = () => import(`./Settings`);
export default Page;
