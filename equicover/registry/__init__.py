"""The registry: locations, households, persons and their vulnerability categories."""
