// Building OData $filter expressions from what the user picked (quotes doubled, as OData escapes them).

export const quote = (value: string): string => `'${value.replaceAll("'", "''")}'`;

export type JobFilters = { search?: string; status?: string; source?: string; destination?: string };

export function jobsFilter({ search, status, source, destination }: JobFilters): string | undefined {
  const parts: string[] = [];
  if (search?.trim()) parts.push(`contains(JobName,${quote(search.trim())})`);
  if (status) parts.push(`Status eq ${quote(status)}`);
  if (source) parts.push(`Source eq ${quote(source)}`);
  if (destination) parts.push(`Destination eq ${quote(destination)}`);
  return parts.length ? parts.join(" and ") : undefined;
}

export function orderBy(field: string, desc: boolean): string {
  return `${field} ${desc ? "desc" : "asc"}`;
}
