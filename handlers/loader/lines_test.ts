import { assertEquals } from "../../tests/assert.ts";
import { parseLines, splitAuthItem, type TextFormat } from "./lines.ts";

const cases: { name: string; format: TextFormat; text: string; want: string[] }[] = [
  { name: "lines: comment after an item", format: "lines", text: "1.2.3.4 # note\n", want: ["1.2.3.4"] },
  { name: "lines: column-1 comment", format: "lines", text: "# comment\n10.0.0.0/8", want: ["10.0.0.0/8"] },
  { name: "lines: # anywhere cuts", format: "lines", text: "a#b\n#\n  # indented", want: ["a"] },
  { name: "lines: blank and space-only lines", format: "lines", text: "\n   \n\t\nx\n\n", want: ["x"] },
  { name: "lines: CRLF", format: "lines", text: "a\r\nb\r\n", want: ["a", "b"] },
  {
    name: "lines: tabs become spaces, inner kept",
    format: "lines",
    text: "\t1.2.3.4\texample.com \n",
    want: [
      "1.2.3.4 example.com",
    ],
  },
  { name: "lines: no final newline", format: "lines", text: "a\nb", want: ["a", "b"] },
  { name: "lines: empty", format: "lines", text: "", want: [] },
  { name: "auth: password keeps #", format: "auth", text: "admin #123\n", want: ["admin #123"] },
  { name: "auth: column-1 comment", format: "auth", text: "# comment\nu1 p1", want: ["u1 p1"] },
  { name: "auth: comment after indentation", format: "auth", text: "  # still a comment\n", want: [] },
  { name: "auth: tabs", format: "auth", text: "u1\tp1\t\r\n", want: ["u1 p1"] },
  { name: "auth: blank lines", format: "auth", text: "\n\nu\n\n", want: ["u"] },
];

for (const c of cases) {
  Deno.test(`parseLines ${c.name}`, () => assertEquals(parseLines(c.text, c.format), c.want));
}

const auths: { item: string; username: string; password: string }[] = [
  { item: "admin #123", username: "admin", password: "#123" },
  { item: "user1 pass1", username: "user1", password: "pass1" },
  { item: "user2 pass with  spaces ", username: "user2", password: "pass with  spaces" },
  { item: "user3", username: "user3", password: "" },
  { item: "user4\t pass4", username: "user4", password: "pass4" },
];

for (const a of auths) {
  Deno.test(`splitAuthItem ${JSON.stringify(a.item)}`, () => {
    assertEquals(splitAuthItem(a.item), { username: a.username, password: a.password });
  });
}

Deno.test("auth file end to end: spec example", () => {
  const text = "# users\nadmin #123\ntest\ttest123\nanon\n";
  assertEquals(parseLines(text, "auth").map(splitAuthItem), [
    { username: "admin", password: "#123" },
    { username: "test", password: "test123" },
    { username: "anon", password: "" },
  ]);
});
