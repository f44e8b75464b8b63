DROP TABLE leases;
DROP TABLE config_items;
DROP TABLE notification_deliveries;
DROP TABLE notification_queue;
DROP TABLE audits;
