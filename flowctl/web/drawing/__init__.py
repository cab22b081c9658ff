"""Pictures of DAGs and runs for the pages: the graph's layered layout and the graph and Gantt as SVG.
No DB and no Flask here: the views pass in what to draw."""
