"""mlspec: one declarative ``mlproject.yaml`` compiled into a working Azure ML system."""

DISTRIBUTION = "mlspec-azure"  # the name pip installs this project by (`mlspec` on PyPI is another project)
