export * from './args';
export * from './mercadopago-notification';
export * from './postcheck';
