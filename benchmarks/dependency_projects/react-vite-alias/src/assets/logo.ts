export default "logo.svg";
