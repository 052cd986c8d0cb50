// Package deploy holds what runs crmsync outside the development machine: the config that
// docker-compose.yml mounts into its containers (crmsync.compose.yaml), and a test that
// checks docker-compose.yml's structure without a Docker engine.
package deploy
