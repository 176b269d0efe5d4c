DROP TABLE notifications;
DROP TABLE push_subscriptions;
DROP TABLE customer_consents;
DROP TABLE customers;
