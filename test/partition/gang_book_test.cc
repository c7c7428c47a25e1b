// Gang bookkeeping: members counted once, all-or-nothing completion seen by exactly one caller
// even when members arrive at once, bad members refused, and expiry of waiting reservations.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "partition/gang/gang_book.h"

namespace flexai::partition {
namespace {

using namespace std::chrono_literals;

const GangClock::time_point kT0 = GangClock::time_point{} + 1000h;

GangSpec Spec(int size, std::chrono::seconds timeout = 60s) {
  return {"team-a/job1", size, timeout};
}
GangMember Member(const std::string& name, GangClock::time_point since = kT0) {
  return {"uid-" + name, "team-a", name, "n1", since, false};
}

TEST(GangSpecTest, ParsesNameSizeAndTimeout) {
  auto spec = ParseGangSpec("team-a", "job1", "4", "30", 120s);
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(spec->has_value());
  EXPECT_EQ((*spec)->key, "team-a/job1");
  EXPECT_EQ((*spec)->size, 4);
  EXPECT_EQ((*spec)->timeout, 30s);
  EXPECT_EQ((*ParseGangSpec("a", "j", "2", "", 120s))->timeout, 120s);
}

TEST(GangSpecTest, NoGangNameMeansNoGang) {
  auto spec = ParseGangSpec("team-a", "", "", "", 120s);
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->has_value());
}

TEST(GangSpecTest, BadValuesNameTheAnnotation) {
  for (const char* size : {"", "0", "-1", "two", "3x", "99999999"}) {
    auto spec = ParseGangSpec("a", "j", size, "", 120s);
    ASSERT_FALSE(spec.ok()) << size;
    EXPECT_NE(spec.error().message.find("flexai.io/gang-size"), std::string::npos);
  }
  auto timeout = ParseGangSpec("a", "j", "2", "soon", 120s);
  ASSERT_FALSE(timeout.ok());
  EXPECT_NE(timeout.error().message.find("flexai.io/gang-timeout-seconds"), std::string::npos);
}

TEST(GangBookTest, GangCompletesWhenTheLastMemberReserves) {
  GangBook book;
  auto first = book.Reserve(Spec(3), Member("a"));
  auto second = book.Reserve(Spec(3), Member("b"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second->held, 2);
  EXPECT_FALSE(second->complete());
  auto third = book.Reserve(Spec(3), Member("c"));
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->complete());
  EXPECT_TRUE(third->completed_now);
  EXPECT_EQ(book.Members("team-a/job1").size(), 3u);
}

TEST(GangBookTest, RetriedMemberIsCountedOnceAndMovesToItsNewNode) {
  GangBook book;
  ASSERT_TRUE(book.Reserve(Spec(2), Member("a")).ok());
  GangMember moved = Member("a");
  moved.node = "n2";
  auto again = book.Reserve(Spec(2), moved);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->held, 1);
  EXPECT_EQ(book.Member("uid-a")->node, "n2");
}

TEST(GangBookTest, OneMemberTooManyIsRefusedAndChangesNothing) {
  GangBook book;
  ASSERT_TRUE(book.Reserve(Spec(2), Member("a")).ok());
  ASSERT_TRUE(book.Reserve(Spec(2), Member("b")).ok());
  auto extra = book.Reserve(Spec(2), Member("c"));
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.error().message.find("one too many"), std::string::npos);
  EXPECT_FALSE(book.Member("uid-c"));
  EXPECT_EQ(book.Progress("team-a/job1").held, 2);
}

TEST(GangBookTest, MemberDisagreeingOnTheSizeIsRefused) {
  GangBook book;
  ASSERT_TRUE(book.Reserve(Spec(3), Member("a")).ok());
  auto odd = book.Reserve(Spec(4), Member("b"));
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("says size 4"), std::string::npos);
  EXPECT_EQ(book.Progress("team-a/job1").held, 1);
}

TEST(GangBookTest, WaitingGangExpiresAfterItsTimeoutButABoundOneDoesNot) {
  GangBook book;
  ASSERT_TRUE(book.Reserve(Spec(3, 60s), Member("a", kT0)).ok());
  ASSERT_TRUE(book.Reserve(Spec(3, 60s), Member("b", kT0 + 30s)).ok());
  EXPECT_TRUE(book.Expired(kT0 + 59s).empty());
  EXPECT_EQ(book.Expired(kT0 + 60s), std::vector<std::string>{"team-a/job1"});

  GangBook done;
  GangSpec pair{"team-a/pair", 1, 60s};
  ASSERT_TRUE(done.Reserve(pair, Member("p", kT0)).ok());
  done.MarkBound("uid-p");
  EXPECT_TRUE(done.Expired(kT0 + 1h).empty());
}

TEST(GangBookTest, GangPastItsCommitPointNeverExpiresButIsToBeRetried) {
  GangBook complete;
  ASSERT_TRUE(complete.Reserve(Spec(2, 60s), Member("a", kT0)).ok());
  ASSERT_TRUE(complete.Reserve(Spec(2, 60s), Member("b", kT0)).ok());
  EXPECT_TRUE(complete.Expired(kT0 + 1h).empty());
  EXPECT_EQ(complete.Committed(), std::vector<std::string>{"team-a/job1"});

  // One member bound, the other's binding failed, then a member left: still not released.
  GangBook partly_bound;
  ASSERT_TRUE(partly_bound.Reserve(Spec(3, 60s), Member("a", kT0)).ok());
  ASSERT_TRUE(partly_bound.Reserve(Spec(3, 60s), Member("b", kT0)).ok());
  partly_bound.MarkBound("uid-a");
  EXPECT_TRUE(partly_bound.Expired(kT0 + 1h).empty());
  EXPECT_TRUE(partly_bound.Committed().empty());  // incomplete: waits for its replacement member

  partly_bound.MarkBound("uid-b");
  ASSERT_TRUE(partly_bound.Reserve(Spec(3, 60s), Member("c", kT0)).ok());
  partly_bound.MarkBound("uid-c");
  EXPECT_TRUE(partly_bound.Committed().empty());  // every member bound: nothing to retry
}

TEST(GangBookTest, ForgettingMembersFreesTheirPlaceAndEmptyGangsVanish) {
  GangBook book;
  ASSERT_TRUE(book.Reserve(Spec(2), Member("a")).ok());
  ASSERT_TRUE(book.Reserve(Spec(2), Member("b")).ok());
  book.Forget("uid-a");
  EXPECT_EQ(book.Progress("team-a/job1").held, 1);
  EXPECT_TRUE(book.Reserve(Spec(2), Member("c")).ok());
  book.Forget("uid-b");
  book.Forget("uid-c");
  EXPECT_FALSE(book.Spec("team-a/job1"));
  EXPECT_EQ(book.totals().gangs_waiting, 0u);
}

TEST(GangBookTest, TotalsCountWaitingGangsAndUnboundMembers) {
  GangBook book;
  ASSERT_TRUE(book.Reserve(Spec(3), Member("a")).ok());
  ASSERT_TRUE(book.Reserve(Spec(3), Member("b")).ok());
  book.MarkBound("uid-b");
  EXPECT_EQ(book.totals().gangs_waiting, 1u);
  EXPECT_EQ(book.totals().members_reserved, 1u);
}

TEST(GangBookTest, ConcurrentMembersCompleteTheGangExactlyOnceAndNeverOverReserve) {
  for (int round = 0; round < 20; ++round) {
    GangBook book;
    constexpr int kSize = 8;
    std::atomic<int> completions{0}, refused{0};
    std::vector<std::thread> threads;
    // Twice as many candidates as places, each retried: exactly kSize hold, one completes it.
    for (int t = 0; t < 2 * kSize; ++t) {
      threads.emplace_back([&, t] {
        for (int attempt = 0; attempt < 3; ++attempt) {
          auto p = book.Reserve(Spec(kSize), Member("m" + std::to_string(t)));
          if (!p.ok()) {
            ++refused;
            return;
          }
          if (p->completed_now) ++completions;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(completions.load(), 1);
    EXPECT_EQ(book.Progress("team-a/job1").held, kSize);
    EXPECT_EQ(refused.load(), kSize);
  }
}

}  // namespace
}  // namespace flexai::partition
