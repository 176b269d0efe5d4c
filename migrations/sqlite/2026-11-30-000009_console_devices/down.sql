DROP TABLE console_devices;
