export default "1.0";
