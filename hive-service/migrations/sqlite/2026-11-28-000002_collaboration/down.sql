DROP TABLE action_required;
DROP TABLE shared_items;
DROP TABLE shares;
DROP TABLE case_links;
DROP TABLE custom_events;
DROP TABLE pages;
DROP TABLE procedures;
DROP TABLE comments;
