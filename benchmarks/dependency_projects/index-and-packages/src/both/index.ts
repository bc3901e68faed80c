export default 8;
