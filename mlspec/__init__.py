"""mlspec: one declarative ``mlproject.yaml`` compiled into a working Azure ML system."""
