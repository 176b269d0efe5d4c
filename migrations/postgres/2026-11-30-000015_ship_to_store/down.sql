-- Orders still awaiting a transfer keep their status: the wider check stays.
DROP TABLE transfer_lines;
DROP TABLE transfers;
DROP TABLE transfer_lanes;
