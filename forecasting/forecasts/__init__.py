"""What a forecast is, shared by the model side and `serving/`: long frames in target units
(`frames`) and the combination of member forecasts into an ensemble (`combine`)."""
