package deploy

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/internal/config"
)

// repoRoot is where docker-compose.yml and the Dockerfile are, relative to this package.
const repoRoot = ".."

// compose is the part of a Compose file the checks read. Fields take the forms the
// Compose specification allows (a list or a map for environment and depends_on, a string
// or a map for build).
type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string    `yaml:"image"`
	Build       yaml.Node `yaml:"build"`
	Entrypoint  []string  `yaml:"entrypoint"`
	Command     yaml.Node `yaml:"command"`
	Environment yaml.Node `yaml:"environment"`
	DependsOn   yaml.Node `yaml:"depends_on"`
	Ports       []string  `yaml:"ports"`
	Volumes     []string  `yaml:"volumes"`
	Profiles    []string  `yaml:"profiles"`
}

// setup parses docker-compose.yml.
func setup(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	require.NoError(t, err)
	var c compose
	require.NoError(t, yaml.Unmarshal(b, &c), "docker-compose.yml is not valid YAML of the expected shape")
	require.NotEmpty(t, c.Services)
	return c
}

// env is a service's environment, from either of its forms.
func (s service) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	n := s.Environment
	if n.Kind == yaml.AliasNode {
		n = *n.Alias
	}
	switch n.Kind {
	case 0:
	case yaml.MappingNode:
		require.NoError(t, n.Decode(&out))
	case yaml.SequenceNode:
		var list []string
		require.NoError(t, n.Decode(&list))
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		t.Fatalf("environment at line %d is neither a map nor a list", n.Line)
	}
	return out
}

// dependsOn names the services a service depends on, from either of its forms.
func (s service) dependsOn(t *testing.T) []string {
	t.Helper()
	switch s.DependsOn.Kind {
	case 0:
		return nil
	case yaml.SequenceNode:
		var list []string
		require.NoError(t, s.DependsOn.Decode(&list))
		return list
	case yaml.MappingNode:
		var m map[string]any
		require.NoError(t, s.DependsOn.Decode(&m))
		var names []string
		for k := range m {
			names = append(names, k)
		}
		return names
	}
	t.Fatalf("depends_on at line %d is neither a list nor a map", s.DependsOn.Line)
	return nil
}

// dockerfile is the Dockerfile a building service uses, relative to the repository, or
// "" for a service that runs an image.
func (s service) dockerfile(t *testing.T) string {
	t.Helper()
	switch s.Build.Kind {
	case 0:
		return ""
	case yaml.ScalarNode:
		return filepath.Join(s.Build.Value, "Dockerfile")
	case yaml.MappingNode:
		var b struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		}
		require.NoError(t, s.Build.Decode(&b))
		if b.Dockerfile == "" {
			b.Dockerfile = "Dockerfile"
		}
		return filepath.Join(b.Context, b.Dockerfile)
	}
	t.Fatalf("build at line %d is neither a path nor a map", s.Build.Line)
	return ""
}

// crmsyncServices are the services that run crmsync's worker or starter against the
// deployment: they need the database, Temporal and the config.
var crmsyncServices = []string{"worker", "webhooks", "intake", "starter"}

func TestComposeHasEveryService(t *testing.T) {
	t.Parallel()
	c := setup(t)
	for _, name := range []string{"postgresql", "temporal", "temporal-ui", "worker", "webhooks", "simulator", "starter"} {
		require.Contains(t, c.Services, name, "docker-compose.yml has no %s service", name)
	}
	for name, s := range c.Services {
		require.True(t, s.Image != "" || s.Build.Kind != 0, "service %s has neither an image nor a build", name)
	}
}

func TestComposeBuildsWithTheRepositoryDockerfile(t *testing.T) {
	t.Parallel()
	c := setup(t)
	for name, s := range c.Services {
		df := s.dockerfile(t)
		if df == "" {
			continue
		}
		require.Equal(t, "Dockerfile", filepath.Clean(df), "service %s builds with %s, not the repository's Dockerfile", name, df)
		require.FileExists(t, filepath.Join(repoRoot, df))
		if len(s.Entrypoint) > 0 {
			require.Contains(t, []string{"/usr/local/bin/worker", "/usr/local/bin/starter"}, s.Entrypoint[0],
				"service %s runs a binary the image does not hold", name)
		}
	}
}

// The worker, the receiver and the CLI get the database, Temporal and the config; the
// config they mount loads, and every variable it names (credentials, OAuth values,
// webhook secrets) is in their environment.
func TestComposeWiresCrmsyncByEnvironment(t *testing.T) {
	t.Parallel()
	c := setup(t)
	for _, name := range crmsyncServices {
		s := c.Services[name]
		env := s.env(t)
		for _, v := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "CRMSYNC_CONFIG", config.PayloadKeysEnv} {
			require.Contains(t, env, v, "service %s lacks %s", name, v)
		}
		// The config is mounted where CRMSYNC_CONFIG says.
		var source string
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == env["CRMSYNC_CONFIG"] {
				source = parts[0]
			}
		}
		require.NotEmpty(t, source, "service %s mounts nothing at CRMSYNC_CONFIG=%s", name, env["CRMSYNC_CONFIG"])
		cfg, err := config.Load(filepath.Join(repoRoot, source))
		require.NoError(t, err, "the config service %s mounts", name)
		for _, in := range cfg.Integrations {
			for _, v := range in.SecretEnvs() {
				require.NotEmpty(t, env[v], "service %s: integration %s names %s, which the compose file does not set", name, in.ID, v)
			}
			if in.BaseURL != "" {
				requireServiceHost(t, c, name+" "+in.ID+".base_url", in.BaseURL)
			}
		}
		if cfg.Intake != nil {
			for _, app := range cfg.Intake.Apps {
				_, err := app.Token(func(k string) string { return env[k] })
				require.NoError(t, err, "service %s: intake app %s", name, app.Name)
			}
		}
		requireServiceHost(t, c, name+" DATABASE_URL", env["DATABASE_URL"])
		requireServiceHost(t, c, name+" TEMPORAL_ADDRESS", "grpc://"+env["TEMPORAL_ADDRESS"])
		require.Contains(t, s.dependsOn(t), "postgresql", "service %s starts before PostgreSQL", name)
		require.Contains(t, s.dependsOn(t), "temporal", "service %s starts before Temporal", name)
	}
	// The simulator signs its webhooks with the secret the receiver checks them with.
	sim := c.Services["simulator"]
	i := slices.Index(sim.Entrypoint, "--webhook-secret-env")
	require.Positive(t, i, "the simulator is not told which variable holds the webhook secret")
	secretVar := sim.Entrypoint[i+1]
	require.Equal(t, c.Services["webhooks"].env(t)[secretVar], sim.env(t)[secretVar], "the simulator and the receiver disagree on %s", secretVar)
	j := slices.Index(sim.Entrypoint, "--webhook-url")
	require.Positive(t, j)
	requireServiceHost(t, c, "simulator --webhook-url", sim.Entrypoint[j+1])
}

// requireServiceHost checks that a URL's host is one of the compose file's services.
func requireServiceHost(t *testing.T, c compose, what, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err, what)
	require.Contains(t, c.Services, u.Hostname(), "%s (%s) names a host that is no service", what, u.Redacted())
}

func TestComposeDependenciesExist(t *testing.T) {
	t.Parallel()
	c := setup(t)
	for name, s := range c.Services {
		for _, d := range s.dependsOn(t) {
			require.Contains(t, c.Services, d, "service %s depends on %s, which is no service", name, d)
			require.NotEqual(t, name, d)
		}
	}
}

func TestComposePortsDoNotCollide(t *testing.T) {
	t.Parallel()
	c := setup(t)
	taken := map[string]string{}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			p, _, _ = strings.Cut(p, "/") // protocol
			parts := strings.Split(p, ":")
			require.GreaterOrEqual(t, len(parts), 2, "service %s publishes %q without a host port", name, p)
			host := net.JoinHostPort(strings.Join(parts[:len(parts)-2], ":"), parts[len(parts)-2])
			if other, ok := taken[host]; ok {
				t.Errorf("services %s and %s both publish host port %s", other, name, host)
			}
			taken[host] = name
		}
	}
	require.NotEmpty(t, taken)
}

func TestComposeVolumesAreDeclared(t *testing.T) {
	t.Parallel()
	c := setup(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			source, _, ok := strings.Cut(v, ":")
			require.True(t, ok, "service %s: volume %q has no target", name, v)
			if strings.HasPrefix(source, ".") || strings.HasPrefix(source, "/") || strings.HasPrefix(source, "~") {
				if strings.HasPrefix(source, ".") {
					require.FileExists(t, filepath.Join(repoRoot, source), "service %s mounts %s", name, source)
				}
				continue
			}
			require.Contains(t, c.Volumes, source, "service %s uses volume %s, which is not declared", name, source)
		}
	}
}
