"""The supervision work of the inspection-and-quarantine authorities (regulation art. 4–6,
11–21; issue 11): the farm register, monitoring records with the key areas' checklists,
anomalies and their evidence, rectification and cases, fault tickets, video quality
diagnosis, random spot checks and the overview per organisation. One module or subpackage
per subject, each with its records, repository and service."""
