#include "engine/shell_words.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace runbook {
namespace {

using ::testing::ElementsAre;
using Words = std::vector<std::string>;

Words Read(std::string_view command, const std::map<std::string, std::string>& params = {}) {
  return KnownCommandWords(command, params);
}

TEST(KnownCommandWords, PlainWordsInOrderEachOnce) {
  EXPECT_THAT(Read("sh scripts/deploy.sh now"), ElementsAre("sh", "scripts/deploy.sh", "now"));
  EXPECT_THAT(Read("cat a.txt a.txt b.txt"), ElementsAre("cat", "a.txt", "b.txt"));
  EXPECT_THAT(Read("  \t"), ElementsAre());
}

TEST(KnownCommandWords, QuotesAndBackslashesAreRemoved) {
  EXPECT_THAT(Read(R"(sh 'my script.sh' "other file.sh" with\ space.sh)"),
              ElementsAre("sh", "my script.sh", "other file.sh", "with space.sh"));
  EXPECT_THAT(Read(R"(cat "a\"b" 'c'd)"), ElementsAre("cat", "a\"b", "cd"));
  EXPECT_THAT(Read("sh run.sh \\\n  --flag"), ElementsAre("sh", "run.sh", "--flag"));
}

TEST(KnownCommandWords, ParamPlaceholdersStandForTheirValueInsideOneWord) {
  const std::map<std::string, std::string> params = {{"v", "1.2 beta"}, {"name", "deploy"}};
  EXPECT_THAT(Read("sh scripts/deploy.sh {{ params.v }}", params),
              ElementsAre("sh", "scripts/deploy.sh", "1.2 beta"));
  EXPECT_THAT(Read("sh scripts/{{ params.name }}.sh", params),
              ElementsAre("sh", "scripts/deploy.sh"));
}

TEST(KnownCommandWords, WordsWithValuesKnownOnlyDuringTheRunAreLeftOut) {
  // A param missing from the map (a `secret: true` one), secrets, step results, env, run id
  // and raw placeholders.
  EXPECT_THAT(Read("sh {{ params.hidden }}.sh {{ secrets.t }} {{ steps.a.stdout }} "
                   "{{ env.HOME }}/x {{ run.id }} {{ raw params.v }} ok",
                   {{"v", "x"}}),
              ElementsAre("sh", "ok"));
}

TEST(KnownCommandWords, ExpansionsAreLeftOut) {
  EXPECT_THAT(Read(R"(cat $HOME/x "$PWD/log" ${A}b config/*.conf ~/y a?.txt [ab].txt {a,b}.sh)"),
              ElementsAre("cat"));
  // Only a leading ~ expands; the words of a command substitution are words of a command.
  EXPECT_THAT(Read("echo $((1<<3)) x.sh\nsh y.sh"), ElementsAre("echo", "x.sh", "sh", "y.sh"));
  EXPECT_THAT(Read("echo a~b $(cat list.txt) `cat other.txt`"),
              ElementsAre("echo", "a~b", "cat", "list.txt", "other.txt"));
}

TEST(KnownCommandWords, OutputRedirectionTargetsAndDescriptorsAreLeftOut) {
  EXPECT_THAT(Read("sh run.sh > out.log 2>err.log >>more.log &>all.log >|forced.log 2>&1"),
              ElementsAre("sh", "run.sh"));
  // Input redirections name files the command reads.
  EXPECT_THAT(Read("psql <schema.sql && sort < data.txt 0<in.txt"),
              ElementsAre("psql", "schema.sql", "sort", "data.txt", "in.txt"));
  EXPECT_THAT(Read("cat <<< here.txt"), ElementsAre("cat"));
}

TEST(KnownCommandWords, OperatorsSeparateWords) {
  EXPECT_THAT(Read("a.sh&&b.sh;c.sh|d.sh||(e.sh)&"),
              ElementsAre("a.sh", "b.sh", "c.sh", "d.sh", "e.sh"));
}

TEST(KnownCommandWords, CommentsAndHereDocumentBodiesAreNotWords) {
  EXPECT_THAT(Read("sh a.sh # b.sh\nsh c.sh"), ElementsAre("sh", "a.sh", "c.sh"));
  EXPECT_THAT(Read("echo x#y"), ElementsAre("echo", "x#y"));
  EXPECT_THAT(Read("cat <<EOF > out\nbody.txt {{ params.v }}\nEOF\nsh run.sh", {{"v", "1"}}),
              ElementsAre("cat", "sh", "run.sh"));
  EXPECT_THAT(Read("cat <<-'END'\n\tbody.txt\n\tEND\nsh run.sh"),
              ElementsAre("cat", "sh", "run.sh"));
  // Two here-documents on one line: both bodies are skipped.
  EXPECT_THAT(Read("cat <<A <<B\na.txt\nA\nb.txt\nB\nls c.txt"), ElementsAre("cat", "ls", "c.txt"));
}

TEST(KnownCommandWords, ACommandThatDoesNotParseIsReadAsText) {
  // A placeholder inside quotes is refused by validation; read as plain text, the word is
  // not a file name anyone has.
  EXPECT_THAT(Read("sh 'run.sh' '{{ params.v }}'", {{"v", "x"}}),
              ElementsAre("sh", "run.sh", "{{ params.v }}"));
}

}  // namespace
}  // namespace runbook
