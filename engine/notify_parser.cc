#include "engine/notify_parser.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "engine/template.h"

namespace runbook {
namespace {

constexpr std::string_view kNotifyKeys[] = {"url", "on", "timeout", "ca_file",
                                            "insecure"};

std::string EventNames() {
  std::string names;
  for (int i = 0; i < kNotifyEventCount; ++i)
    names += std::string(names.empty() ? "" : ", ") + NotifyEventName(static_cast<NotifyEvent>(i));
  return names;
}

void ParseWebhook(const YamlField& field, YamlReader& r, Validator& v, NotifyTarget* t) {
  if (!r.GetString(field, &t->webhook)) return;
  const SourceLoc loc = YamlReader::ValueLoc(field);
  if (t->webhook.empty()) {
    r.Error(loc, "url: empty URL");
    return;
  }
  Template tmpl;
  TemplateError error;
  if (!ParseTemplate(t->webhook, Quoting::kNone, &tmpl, &error)) {
    r.Error(loc, error.message);
    return;
  }
  for (const Template::Piece& piece : tmpl.pieces) {
    if (!piece.is_ref) continue;
    switch (piece.ref.kind) {
      case TemplateRef::Kind::kStepStdout:
      case TemplateRef::Kind::kStepStderr:
      case TemplateRef::Kind::kStepOutput:
        r.Error(loc, "url: a step's output is not known when the run starts; use params, "
                     "secrets or env");
        return;
      case TemplateRef::Kind::kParam:
      case TemplateRef::Kind::kSecret:
      case TemplateRef::Kind::kRunId:
      case TemplateRef::Kind::kEnv:
        break;
    }
  }
  v.CheckTemplate(t->webhook, Quoting::kNone, loc, {}, /*only_params=*/false);
  if (!tmpl.has_refs() && t->webhook.rfind("http://", 0) != 0 &&
      t->webhook.rfind("https://", 0) != 0) {
    r.Error(loc, "url: '" + t->webhook + "' is not an http:// or https:// URL");
  }
}

void ParseEvents(const YamlField& field, YamlReader& r, NotifyTarget* t) {
  std::vector<std::string> names;
  if (!r.GetStringList(field, &names)) return;
  for (const std::string& name : names) {
    std::optional<NotifyEvent> event = ParseNotifyEvent(name);
    if (!event) {
      r.Error(YamlReader::ValueLoc(field),
              "on: unknown event '" + name + "' (known: " + EventNames() + ")");
      continue;
    }
    if (std::find(t->events.begin(), t->events.end(), *event) == t->events.end())
      t->events.push_back(*event);
  }
  if (names.empty())
    r.Error(YamlReader::ValueLoc(field), "on: empty list (leave it out for every event)");
}

}  // namespace

void ParseNotify(const YamlField& field, YamlReader& r, Validator& v,
                 std::vector<NotifyTarget>* out) {
  if (field.value.IsNull()) return;
  if (!field.value.IsSequence()) {
    r.Error(YamlReader::ValueLoc(field),
            "notify: expected a list of webhooks ({url: URL, on: [...]}), got " +
                YamlReader::Describe(field.value));
    return;
  }
  for (const YamlNode& item : field.value.items()) {
    const SourceLoc loc = LocOf(item);
    YamlFields f;
    if (!r.ReadMap(item, loc, "notify entry", kNotifyKeys, &f)) continue;
    NotifyTarget t;
    t.loc = loc;
    if (const YamlField* s = f.Find("url")) {
      ParseWebhook(*s, r, v, &t);
    } else if (!f.Misspelt("url")) {
      r.Error(loc, "notify entry: missing 'url' (the URL to post to)");
    }
    if (const YamlField* s = f.Find("on")) ParseEvents(*s, r, &t);
    if (const YamlField* s = f.Find("timeout")) {
      if (r.GetDuration(*s, &t.timeout) && t.timeout.count() <= 0)
        r.Error(YamlReader::ValueLoc(*s), "timeout: must be more than 0");
    }
    if (const YamlField* s = f.Find("ca_file"); s && r.GetString(*s, &t.ca_file))
      t.ca_file = v.ResolvePath(t.ca_file);
    if (const YamlField* s = f.Find("insecure")) (void)r.GetBool(*s, &t.insecure);
    out->push_back(std::move(t));
  }
}

}  // namespace runbook
