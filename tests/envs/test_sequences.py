import numpy as np
import pytest

from rlsae.common.errors import UserError
from rlsae.envs.sequences import episode_array, previous_delta, value_after, within_next


def test_look_ahead_and_back_stay_inside_episodes() -> None:
    episodes = np.array([0, 0, 0, 0, 1, 1, 1])
    event = np.array([0, 0, 1, 0, 1, 0, 0], bool)
    # Steps whose next 2 transitions (t, t + 1) hold the event, stopping at the episode's end.
    np.testing.assert_array_equal(within_next(event, episodes, 2), [0, 1, 1, 0, 1, 0, 0])
    # Strictly later steps only (first=1): the event at step 2 is seen from 1 and 0 (horizon 3), not from 2.
    np.testing.assert_array_equal(within_next(event, episodes, 3, first=1), [1, 1, 0, 0, 0, 0, 0])
    values = np.array([1, 3, 6, 10, 100, 101, 103])
    np.testing.assert_array_equal(previous_delta(values, episodes), [0, 2, 3, 4, 0, 1, 2])
    np.testing.assert_array_equal(value_after(values, episodes, 2), [6, 10, 10, 10, 103, 103, 103])
    np.testing.assert_array_equal(episode_array(None, 3), [0, 0, 0])
    with pytest.raises(UserError, match="episode_ids"):
        episode_array(np.zeros(2), 3)
