"""Event contract: the catalogue of Avro schemas, validation of JSON input, and wire framing."""
