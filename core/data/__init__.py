"""Historical data: reading tables from disk (more tiers come with the data service)."""
