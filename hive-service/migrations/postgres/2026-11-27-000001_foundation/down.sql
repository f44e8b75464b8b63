DROP TABLE settings;
DROP TABLE observable_types;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE profiles;
DROP TABLE organisations;
