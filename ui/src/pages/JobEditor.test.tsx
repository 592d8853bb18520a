// The editor against a fake /api.rsc (fetch): the server's error on a query lands under that query with a
// caret at its position, what the user typed stays, and nothing else is claimed saved.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "../App";

type Call = { method: string; path: string; body: unknown; headers: Headers };
const calls: Call[] = [];

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function fakeApi(createAnswer: () => Response) {
  return vi.fn(async (input: Request | string, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = request.method === "GET" ? "" : await request.text();
    calls.push({ method: request.method, path: url.pathname, body: text ? JSON.parse(text) : undefined, headers: request.headers });
    if (url.pathname === "/api.rsc/connections") {
      return json(200, { value: [{ Name: "shop", ProviderName: "SQLite" }, { Name: "warehouse", ProviderName: "PostgreSQL" }] });
    }
    if (url.pathname === "/api.rsc/permissions") return json(200, { User: "admin", CanCreate: "True" });
    if (url.pathname === "/api.rsc/jobs" && request.method === "POST") return createAnswer();
    return json(404, { error: { code: "NotFound", message: `no ${url.pathname}` } });
  });
}

function renderAt(path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <ChakraProvider value={defaultSystem}>
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={[path]}>
          <Routes>
            <Route path="/plugin/:page/*" element={<App />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>
    </ChakraProvider>,
  );
}

beforeEach(() => {
  calls.length = 0;
  globalThis.ResizeObserver ??= class { observe() {} unobserve() {} disconnect() {} } as never;
  Element.prototype.scrollIntoView ??= () => {};
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("job editor", () => {
  it("shows the server's query error at its position and keeps what was typed", async () => {
    const bad = "REPLICATE [t] SELEC x FROM [t]";
    vi.stubGlobal(
      "fetch",
      fakeApi(() =>
        json(400, { error: { code: "InvalidQuery", message: "Query#1: expected WITH, SELECT or end of statement, found 'SELEC'", target: "Query#1", position: 14 } }),
      ),
    );
    renderAt("/plugin/sync-jobs/new");
    fireEvent.change(await screen.findByLabelText("Job name"), { target: { value: "shop_sync" } });
    await waitFor(() => expect(screen.getByTestId("pick-Source").querySelectorAll("option").length).toBe(3));
    fireEvent.change(screen.getByTestId("pick-Source"), { target: { value: "shop" } });
    fireEvent.change(screen.getByTestId("pick-Destination"), { target: { value: "warehouse" } });
    const query = screen.getByPlaceholderText("REPLICATE [Table]");
    fireEvent.change(query, { target: { value: bad } });
    fireEvent.click(screen.getByTestId("save-job"));

    const error = await screen.findByTestId("query-1-error");
    expect(error.textContent).toContain("found 'SELEC'");
    const marker = screen.getByTestId("error-position");
    expect(marker.querySelector("mark")?.textContent).toBe("S"); // offset 14 of the statement
    expect(marker.textContent).toContain(" ".repeat(14) + "^ here");
    expect((screen.getByPlaceholderText("REPLICATE [Table]") as HTMLTextAreaElement).value).toBe(bad);
    expect(screen.getByTestId("save-refused").textContent).toContain("Nothing was saved");

    const post = calls.find((c) => c.method === "POST" && c.path === "/api.rsc/jobs");
    expect(post?.body).toMatchObject({ JobName: "shop_sync", Source: "shop", Destination: "warehouse", "Query#1": bad });
    expect(post?.headers.get("X-Airflow-Sync-UI")).toBe("1"); // the server accepts a cookie write only with it
  });

  it("places every problem the API lists, and one without a field above the form", async () => {
    vi.stubGlobal(
      "fetch",
      fakeApi(() =>
        json(400, {
          error: {
            code: "InvalidJob", message: "2 problems", target: null, position: null,
            details: [
              { code: "InvalidParameter", message: "Source: Airflow connection 'shop' does not exist", target: "Source", position: null },
              { code: "InvalidJob", message: "the job store is read-only", target: null, position: null },
            ],
          },
        }),
      ),
    );
    renderAt("/plugin/sync-jobs/new");
    fireEvent.change(await screen.findByLabelText("Job name"), { target: { value: "x" } });
    fireEvent.click(screen.getByTestId("save-job"));
    expect((await screen.findByText("Source: Airflow connection 'shop' does not exist")).closest("[data-invalid]")).not.toBeNull();
    expect(screen.getByTestId("form-error").textContent).toContain("the job store is read-only");
  });
});
