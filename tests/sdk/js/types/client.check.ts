// Compiled (never run) by `cargo xtask test types`: types/database.ts must give supabase-js's
// generics what they read, so a typed client's mistakes fail to compile. Each `@ts-expect-error`
// is a mistake the types must catch: if they stopped catching it, tsc fails on the unused comment.
import { createClient } from "@supabase/supabase-js"
import type { Database, Tables, TablesInsert } from "../../../../types/database.js"

const supabase = createClient<Database>("http://127.0.0.1:54321", "anon-key")

export async function typedReads(): Promise<string[]> {
  const { data: posts } = await supabase
    .from("scheduled_posts")
    .select("id, body, scheduled_at, teams(name)")
    .eq("team_id", "00000000-0000-0000-0000-000000000000")
  const first = posts?.[0]
  const body: string | undefined = first?.body
  const when: string | null | undefined = first?.scheduled_at
  // @ts-expect-error scheduled_at may be null
  const whenNotNull: string | undefined = first?.scheduled_at
  const team: string | undefined = first?.teams?.name
  // @ts-expect-error there is no such table
  await supabase.from("no_such_table").select()
  return [body ?? "", when ?? "", whenNotNull ?? "", team ?? ""]
}

export async function typedWrites(): Promise<void> {
  const draft: TablesInsert<"scheduled_posts"> = { team_id: "t", body: "hello" }
  await supabase.from("scheduled_posts").insert(draft)
  // @ts-expect-error a client may not set who created a post
  await supabase.from("scheduled_posts").insert({ team_id: "t", created_by: "u" })
  // @ts-expect-error a post needs its team
  await supabase.from("scheduled_posts").insert({ body: "hello" })
  // @ts-expect-error a client may not write the credit ledger
  await supabase.from("ai_credit_ledger").insert({ subject_id: "s", period: "2026-12-01", allowance: 1 })
  // @ts-expect-error a team's member cap is the service role's to change
  await supabase.from("teams").update({ member_cap: 100 }).eq("id", "t")
}

export async function typedCalls(): Promise<Tables<"teams"> | null> {
  const { data: team } = await supabase.rpc("create_team", { name: "Launch" })
  // @ts-expect-error create_team takes a name
  await supabase.rpc("create_team", { title: "Launch" })
  // @ts-expect-error there is no such function
  await supabase.rpc("no_such_function")
  const role: Database["public"]["Enums"]["team_role"] = "admin"
  // @ts-expect-error roles are owner, admin and member
  const wrongRole: Database["public"]["Enums"]["team_role"] = "superuser"
  void role
  void wrongRole
  return team
}
