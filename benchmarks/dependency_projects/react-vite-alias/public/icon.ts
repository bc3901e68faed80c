export default "icon";
