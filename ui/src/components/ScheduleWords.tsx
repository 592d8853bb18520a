import { Text } from "@chakra-ui/react";
import { useQuery } from "@tanstack/react-query";

import { client, unwrap } from "../api/client";

/** A cron in words, as Airflow describes the schedule it really uses (one cached call per distinct cron). */
export function ScheduleWords({ cron }: { cron: string }) {
  const words = useQuery({
    queryKey: ["preview", cron, 1],
    staleTime: Infinity,
    retry: false,
    queryFn: async () => unwrap(client.POST("/previewSchedule", { body: { ScheduledCron: cron, Count: 1 } })),
  });
  return (
    <Text fontSize="sm" title={words.data ? `Airflow cron ${words.data.AirflowCron} (${words.data.Timezone})` : undefined}>
      {words.data?.Description ?? (words.isError ? "invalid cron" : "…")}
    </Text>
  );
}
