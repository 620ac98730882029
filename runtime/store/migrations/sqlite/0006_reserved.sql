-- Placeholder on branch h-search only: number 6 belongs to another change
-- being merged at the same time. The merge drops this file.
SELECT 1;
