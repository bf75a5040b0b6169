"""Appliance load shifting (`forecasting schedule`): when to run each appliance of a home so
that it costs least under a price path, within its window and the site's power limit."""
