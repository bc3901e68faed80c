export const Card = () => <div />;
