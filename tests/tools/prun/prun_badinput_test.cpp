#include "prun_support.hpp"
