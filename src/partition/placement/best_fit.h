// Kept for includes written before the policies moved: BestFitPolicy and AsExclusive now live in
// simple_policies.h.
#pragma once

#include "partition/placement/simple_policies.h"
